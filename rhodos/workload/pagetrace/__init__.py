"""Real programs' memory behaviour: page traces recorded with valgrind, replayed as processes.

* :func:`record` runs a command under valgrind's lackey tool and writes its trace:
  per window of instructions, the pages read and written, by region.
* :class:`PageTrace` reads a trace file, lazily, window by window.
* :class:`TraceReplay` is a program that replays a trace on any machine profile.
* :func:`describe` and :func:`plot` show a trace in words and in a picture.
* :func:`shipped_traces` lists the traces that come with the package; :func:`open_trace`
  opens one by name or path.
* :func:`trace_figures` measures a trace's size, pace and dirty rate on one machine.
"""

from rhodos.workload.pagetrace.figures import TraceFigures, trace_figures
from rhodos.workload.pagetrace.format import REGIONS, PageTrace, TraceWindow, write_trace
from rhodos.workload.pagetrace.lackey import FoldedWindow, WindowFolder
from rhodos.workload.pagetrace.recorder import RecordError, Recording, record
from rhodos.workload.pagetrace.replay import PageMap, TraceReplay
from rhodos.workload.pagetrace.shipped import TRACES_DIR, open_trace, shipped_traces
from rhodos.workload.pagetrace.show import TraceSummary, describe, plot, summarize

__all__ = [
    "REGIONS",
    "TRACES_DIR",
    "FoldedWindow",
    "PageMap",
    "PageTrace",
    "RecordError",
    "Recording",
    "TraceFigures",
    "TraceReplay",
    "TraceSummary",
    "TraceWindow",
    "WindowFolder",
    "describe",
    "open_trace",
    "plot",
    "record",
    "shipped_traces",
    "summarize",
    "trace_figures",
    "write_trace",
]
