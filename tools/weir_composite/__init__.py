"""weir_composite: composes a Weir recording into one video with ffmpeg.

A recording (format in docs/recording.md) is one file per track whose frame
timestamps are already on the recording's timeline. This package reads it,
decides where each participant's picture goes, and hands ffmpeg one filter
graph that overlays the cameras onto a background and mixes the audio.

Modules, one job each:
  tools.py      running ffprobe/ffmpeg: capabilities, stream facts, packets
  recording.py  manifest.json + timeline.jsonl + the files -> Recording
  layout.py     who goes where: teacher large, students in a strip (pure)
  whiteboard.py the whiteboard ops redrawn as pictures (pure)
  board.py      those pictures as a slideshow input for ffmpeg
  graph.py      the ffmpeg filter graph and command line (pure)
  progress.py   runs ffmpeg, turns -progress output into status lines
  cli.py        argument parsing, exit codes, putting it together

Python standard library only; ffmpeg and ffprobe must be on PATH (or named by
the FFMPEG / FFPROBE environment variables).
"""


class CompositeError(Exception):
    """A problem the user must fix; cli.py prints it and exits with .code."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code
