"""The soundtrack: when reference and attempt dance to the same song, the music tells the offset.

Each soundtrack becomes an onset-strength envelope (spectral flux of a log spectrogram at 100 Hz); the
lags that maximise their cross-correlation are the candidate offsets of the music. They are used only when
the correlation is clearly that of the same music (`MIN_CORRELATION`), so a different song or silence
changes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import av.error
import numpy as np

from engine.decode import open_container

log = logging.getLogger(__name__)

SAMPLE_RATE = 11025
HOP = 110  # about 100 envelope values per second
WINDOW = 512
ENVELOPE_RATE = SAMPLE_RATE / HOP
MIN_CORRELATION = 0.45  # normalised envelope correlation below which the music is not the same
CANDIDATE_RATIO = 0.8  # other lags within this ratio of the best are candidates too
MAX_CANDIDATES = 3
EXCLUSION_S = 0.25
MIN_SECONDS = 4.0


def onset_envelope(path: Path, max_seconds: float = 600.0) -> np.ndarray | None:
    """envelope: (N,) float32 at ENVELOPE_RATE Hz, zero mean, unit variance; None when there is no usable sound."""
    try:
        with open_container(Path(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks: list[np.ndarray] = []
            total = 0
            limit = int(max_seconds * SAMPLE_RATE)
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for frame in frames:
                    for out in resampler.resample(frame):
                        arr = out.to_ndarray().reshape(-1)
                        chunks.append(arr)
                        total += arr.size
                if total >= limit:
                    break
    except (av.error.FFmpegError, OSError) as exc:  # no sound is not an error: poses still align
        log.info("no usable soundtrack in %s: %s", path, exc)
        return None
    if total < MIN_SECONDS * SAMPLE_RATE:
        return None
    samples = np.concatenate(chunks)[:limit].astype(np.float32)
    if float(np.abs(samples).max(initial=0.0)) < 1e-4:
        return None
    n_frames = 1 + (len(samples) - WINDOW) // HOP
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(n_frames)[:, None]
    spectrum = np.abs(np.fft.rfft(samples[idx] * np.hanning(WINDOW).astype(np.float32), axis=1))
    logspec = np.log1p(100.0 * spectrum)
    flux = np.maximum(np.diff(logspec, axis=0), 0.0).sum(axis=1)
    flux = flux - np.convolve(flux, np.ones(15) / 15, mode="same")  # remove slow loudness changes
    std = float(flux.std())
    if std < 1e-6:
        return None
    return ((flux - flux.mean()) / std).astype(np.float32)


def music_offsets(reference: np.ndarray | None, attempt: np.ndarray | None) -> list[float]:
    """Candidate offsets of the shared music (attempt time minus reference time, seconds), best first.

    Songs repeat (bars, choruses), so the runner-up lag can be almost as good as the true one: up to
    MAX_CANDIDATES lags whose normalised correlation is at least MIN_CORRELATION and within
    CANDIDATE_RATIO of the best are returned, and the dancers' poses decide between them. Empty when the
    soundtracks are not clearly the same music.
    """
    if reference is None or attempt is None:
        return []
    n = len(reference) + len(attempt) - 1
    size = 1 << int(np.ceil(np.log2(n)))
    corr = np.fft.irfft(np.conj(np.fft.rfft(reference, size)) * np.fft.rfft(attempt, size), size)
    # corr[lag] for lag >= 0 and corr[size + lag] for lag < 0, where attempt[i + lag] ~ reference[i].
    lags = np.arange(-(len(reference) - 1), len(attempt))
    values = np.concatenate([corr[size - (len(reference) - 1) :], corr[: len(attempt)]])
    overlap = np.minimum(len(reference), len(attempt) - lags) - np.maximum(0, -lags)
    values = np.where(overlap >= MIN_SECONDS * ENVELOPE_RATE, values / np.maximum(overlap, 1), -np.inf)
    candidates: list[float] = []
    order = np.argsort(-values)
    best = float(values[order[0]])
    if not np.isfinite(best) or best < MIN_CORRELATION:
        log.info("soundtracks differ (best correlation %.2f): offset from poses only", best)
        return []
    for k in order:
        if values[k] < CANDIDATE_RATIO * best or len(candidates) >= MAX_CANDIDATES:
            break
        if any(abs(lags[k] / ENVELOPE_RATE - c) < EXCLUSION_S for c in candidates):
            continue
        offset = float(lags[k])
        if 0 < k < len(values) - 1 and np.isfinite(values[k - 1]) and np.isfinite(values[k + 1]):
            a, b, c = values[k - 1], values[k], values[k + 1]
            if a - 2 * b + c < 0:
                offset += float(np.clip(0.5 * (a - c) / (a - 2 * b + c), -0.5, 0.5))
        candidates.append(offset / ENVELOPE_RATE)
    return candidates
