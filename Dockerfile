# syntax=docker/dockerfile:1
# DanceScore: the bots, the CLI and the engine in one image, built by the same set-up script as the README.
#
# CPU (default):   docker build -t dancescore .
# NVIDIA GPUs:     docker build -t dancescore:cuda \
#                    --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 .
#                  docker run --gpus all --env-file .env dancescore:cuda
# On the CPU image pip takes torch 2.13.0 from PyPI; to get the smaller CPU-only wheel, pass the PyTorch
# CPU wheel index as --build-arg PIP_EXTRA_INDEX_URL=...
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG PIP_EXTRA_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} \
    DEBIAN_FRONTEND=noninteractive

# OpenCV (through mediapipe) needs libGL and GLib; CUDA base images have no Python 3.11 of their own.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ca-certificates \
    && if ! command -v python3.11 >/dev/null; then \
         apt-get install -y --no-install-recommends python3.11 python3.11-venv; \
       fi \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 dancescore
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY engine ./engine
COPY models ./models
COPY bot ./bot
RUN PYTHON=python3.11 bash scripts/setup --no-dev \
    && mkdir -p /app/data && chown dancescore /app/data

USER dancescore
VOLUME ["/app/data"]
ENV DANCESCORE_DATA_DIR=/app/data
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s CMD [".venv/bin/python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
ENTRYPOINT [".venv/bin/dancescore"]
CMD ["bot"]
