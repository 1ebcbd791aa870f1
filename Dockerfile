# syntax=docker/dockerfile:1
# CPU image by default; for NVIDIA GPUs build with a CUDA runtime base, e.g.
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 .
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY models ./models
COPY bot ./bot
COPY scripts ./scripts
RUN bash scripts/setup
CMD [".venv/bin/dancescore", "bot"]
