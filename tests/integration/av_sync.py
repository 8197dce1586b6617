#!/usr/bin/env python3
"""Audio/video offset of a recording of weir-client's sync marks.

weir-client --sync-marks MS makes, every MS of media time, one video frame a
"flash" (the picture below the pattern's code rows turns white) and starts a
1 kHz beep of 100 ms in otherwise silent audio at that frame's nominal time
(tools/weir-client/sync_marks.h). In a recording that keeps the two in sync,
each beep's onset is at its flash's presentation time. This module finds
both in a file, with the file's own timestamps, and pairs them:

  video_flash_times(path)    presentation times (s) of flash frames
  audio_beep_onsets(path)    times (s) of beep onsets, to the sample
  pair_offsets(flashes, onsets)  [(flash, onset, onset - flash)]
  file_start(path)           the file's first timestamp (s)

Standard library plus the ffmpeg and ffprobe programs (no numpy): ffprobe
gives every decoded frame's timestamp, ffmpeg the decoded pictures (gray)
and samples (s16le), and decoded frame i is mapped to ffprobe's frame i.

CLI: python3 av_sync.py VIDEO [AUDIO]   (one file may hold both streams)
prints the pairs and the largest |offset| in ms; exit status 1 when nothing
could be paired.
"""
import array
import json
import os
import shutil
import subprocess
import sys

FFMPEG = os.environ.get("FFMPEG") or shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = os.environ.get("FFPROBE") or shutil.which("ffprobe") or "ffprobe"

# Video. weir-client's code rows take the top 5/16 of the width in height,
# 5/9 (56 %) of a 16:9 picture, so the part that flashes is the lower 44 %;
# the lower 40 % stays clear of the code even where VP8 smears its edge.
# (The lower 60 % would take in 4 % of code rows, half black: a flash there
# measures 210..228, too close to 200 to be a robust test.)
FLASH_REGION = 0.40
# ffmpeg's gray output is full range: the noise field (mean luma 96 in video
# range) reads about 93..97, a flash (235) 255 less the codec's ringing (seen:
# >= 254.7 after VP8 at 320x180). 200 splits them with a wide margin.
FLASH_LUMA = 200.0

# Audio: 1 ms RMS windows; silence and the beep are set relative to the
# loudest sample of the file, so the level of the recording does not matter.
RATE = 48000
WINDOW = RATE // 1000
QUIET_FRACTION = 0.01   # a window below 1 % of the peak is near-silence
LOUD_FRACTION = 0.10    # a window above 10 % of the peak is the beep
ONSET_FRACTION = 0.10   # the onset: first sample above 10 % of the beep's peak
MIN_SILENCE_S = 0.200   # of near-silence before an onset
RISE_S = 0.010          # from the first non-quiet window to a loud one


class AnalysisError(Exception):
    """The file could not be analysed (no such stream, ffmpeg failed, counts differ)."""


def _run(args, binary=False):
    p = subprocess.run(args, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise AnalysisError(f"{os.path.basename(args[0])} failed ({p.returncode}): "
                            + p.stderr.decode(errors="replace")[-2000:])
    return p.stdout if binary else p.stdout.decode()


def _frame_time(f):
    for key in ("pts_time", "best_effort_timestamp_time", "pkt_dts_time"):
        v = f.get(key)
        if v not in (None, "N/A"):
            return float(v)
    raise AnalysisError(f"a decoded frame without a timestamp: {f}")


def _probe_frames(path, selector, entries):
    out = _run([FFPROBE, "-v", "error", "-select_streams", selector, "-show_frames",
                "-show_entries", "frame=" + entries, "-of", "json", path])
    frames = json.loads(out).get("frames", [])
    if not frames:
        raise AnalysisError(f"{path}: no decoded frames in stream {selector}")
    return frames


def video_frame_lumas(path, region=FLASH_REGION):
    """[(time_s, mean luma of the lower `region` of the picture)] per decoded frame."""
    frames = _probe_frames(path, "v:0", "pts_time,best_effort_timestamp_time,pkt_dts_time,"
                                        "width,height")
    sizes = {(int(f["width"]), int(f["height"])) for f in frames}
    if len(sizes) != 1:
        raise AnalysisError(f"{path}: the picture size changes {sorted(sizes)}")
    (w, h), = sizes
    size = w * h
    top = int(h * (1 - region)) * w
    proc = subprocess.Popen([FFMPEG, "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0",
                             "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray",
                             "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    means = []
    try:
        while True:
            pic = proc.stdout.read(size)
            if len(pic) < size:
                break
            lower = pic[top:]
            means.append(sum(lower) / len(lower))
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace")
        proc.wait()
    if proc.returncode != 0:
        raise AnalysisError(f"ffmpeg failed ({proc.returncode}) decoding {path}: {err[-2000:]}")
    if len(means) != len(frames):
        raise AnalysisError(f"{path}: ffmpeg decoded {len(means)} pictures, ffprobe "
                            f"{len(frames)} frames: cannot map pictures to timestamps")
    return [(_frame_time(f), m) for f, m in zip(frames, means)]


def video_flash_times(path, region=FLASH_REGION, threshold=FLASH_LUMA):
    """Sorted presentation times (s) of flash frames (the first of each run of them)."""
    times = []
    prev = False
    for t, mean in sorted(video_frame_lumas(path, region)):
        flash = mean > threshold
        if flash and not prev:
            times.append(t)
        prev = flash
    return times


def _stream_rate(path):
    out = _run([FFPROBE, "-v", "error", "-select_streams", "a:0", "-show_entries",
                "stream=sample_rate", "-of", "json", path])
    streams = json.loads(out).get("streams", [])
    if not streams:
        raise AnalysisError(f"{path}: no audio stream")
    return int(streams[0]["sample_rate"])


def audio_samples(path):
    """(samples as array('h'), [(first sample index, time_s)] per decoded frame), mono.

    Decoded at the stream's own rate, which must be 48 kHz (Opus always is), so
    that ffprobe's nb_samples count the same samples ffmpeg writes."""
    rate = _stream_rate(path)
    if rate != RATE:
        raise AnalysisError(f"{path}: audio at {rate} Hz, expected {RATE} (Opus)")
    frames = _probe_frames(path, "a:0", "pts_time,best_effort_timestamp_time,pkt_dts_time,"
                                        "nb_samples")
    raw = _run([FFMPEG, "-v", "error", "-nostdin", "-i", path, "-map", "0:a:0", "-ac", "1",
                "-f", "s16le", "-"], binary=True)
    samples = array.array("h")
    samples.frombytes(raw[:len(raw) // 2 * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    index, start = [], 0
    for f in frames:
        index.append((start, _frame_time(f)))
        start += int(f["nb_samples"])
    if start != len(samples):
        raise AnalysisError(f"{path}: ffmpeg decoded {len(samples)} samples, ffprobe's frames "
                            f"hold {start}: cannot map samples to timestamps")
    return samples, index


def _sample_time(index, i):
    """Time of sample i: its decoded frame's pts plus its offset in that frame (gaps kept)."""
    lo, hi = 0, len(index) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if index[mid][0] <= i:
            lo = mid
        else:
            hi = mid - 1
    start, t = index[lo]
    return t + (i - start) / RATE


def beep_onset_samples(samples):
    """Sample indexes of beep onsets: a loud rise after >= 200 ms of near-silence."""
    if not samples:
        return []
    peak = max(max(samples), -min(samples))
    if peak == 0:
        return []
    quiet2 = (QUIET_FRACTION * peak) ** 2
    loud2 = (LOUD_FRACTION * peak) ** 2
    n_win = len(samples) // WINDOW
    power = []
    for w in range(n_win):
        chunk = samples[w * WINDOW:(w + 1) * WINDOW]
        power.append(sum(x * x for x in chunk) / WINDOW)
    need_quiet = int(MIN_SILENCE_S * 1000)
    rise = int(RISE_S * 1000)
    onsets = []
    quiet_run = 0
    w = 0
    while w < n_win:
        if power[w] < quiet2:
            quiet_run += 1
            w += 1
            continue
        if quiet_run >= need_quiet:
            loud = next((v for v in range(w, min(n_win, w + rise)) if power[v] > loud2), None)
            if loud is not None:
                # The beep's peak over its first 20 ms; the onset is the first sample
                # from the first non-quiet window on that reaches a tenth of it.
                first = w * WINDOW
                seg = samples[first:first + 20 * WINDOW]
                local = max(abs(x) for x in seg)
                level = ONSET_FRACTION * local
                onsets.append(first + next(i for i, x in enumerate(seg) if abs(x) >= level))
        quiet_run = 0
        w += 1
    return onsets


def audio_beep_onsets(path):
    """Sorted onset times (s) of the beeps, to the sample, on the file's timeline."""
    samples, index = audio_samples(path)
    return sorted(_sample_time(index, i) for i in beep_onset_samples(samples))


def file_start(path):
    """The file's start time (s): the earliest first timestamp of its streams."""
    out = _run([FFPROBE, "-v", "error", "-show_entries", "format=start_time", "-of", "json",
                path])
    start = json.loads(out).get("format", {}).get("start_time")
    if start in (None, "N/A"):
        raise AnalysisError(f"{path}: no start time")
    return float(start)


def pair_offsets(flashes, onsets, max_pair_s=0.5):
    """[(flash, onset, onset - flash)] for each flash with its nearest onset within max_pair_s."""
    pairs = []
    for f in flashes:
        if not onsets:
            break
        o = min(onsets, key=lambda x: abs(x - f))
        if abs(o - f) <= max_pair_s:
            pairs.append((f, o, o - f))
    return pairs


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print("usage: av_sync.py VIDEO [AUDIO]  (one file may hold both streams)",
              file=sys.stderr)
        return 2
    video = argv[1]
    audio = argv[2] if len(argv) == 3 else video
    try:
        flashes = video_flash_times(video)
        onsets = audio_beep_onsets(audio)
    except (AnalysisError, OSError) as e:
        print(f"av_sync: {e}", file=sys.stderr)
        return 2
    pairs = pair_offsets(flashes, onsets)
    print(f"{len(flashes)} flashes, {len(onsets)} beep onsets, {len(pairs)} pairs")
    for f, o, d in pairs:
        print(f"flash {f:10.4f} s  onset {o:10.4f} s  offset {d * 1000:+7.1f} ms")
    if not pairs:
        return 1
    print(f"max |offset| {max(abs(d) for _, _, d in pairs) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
