"""Run the soilmap engine as an external process and report it to Processing.

soilmap runs in its own Python (the environment it was installed into with pip), so
QGIS's Python and GDAL never host its dependencies, as for SAGA, GRASS or
WhiteboxTools.  The commands that take ``--progress json`` print one JSON object
per line on stdout (``{"stage", "done", "total", "message"}``, stages ``open``,
``compute``, ``write``, ``tables``, ``report``, ``done``; a failure ends with a
``{"stage": "error", "message": "ErrorClass: text"}`` line) and their human
messages on stderr.  This module turns that stream into progress, log lines and,
on failure, a :class:`QgsProcessingException` with soilmap's own message.

Cancel sends SIGINT, as Ctrl+C in a terminal: soilmap stops, removes its staging
folder and leaves the output folder as it was.  If it has not stopped after
:data:`GRACE_S` seconds it is sent SIGTERM, then killed.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

from qgis.core import QgsProcessingException

#: Share of the progress bar (start, end, in %) each stage of a run covers.
STAGE_SPANS = {
    "open": (0.0, 5.0),
    "compute": (5.0, 70.0),
    "write": (70.0, 90.0),
    "tables": (90.0, 96.0),
    "report": (96.0, 99.0),
    "done": (100.0, 100.0),
}
#: Seconds soilmap gets to stop cleanly after Cancel before it is terminated.
GRACE_S = 30.0
#: Environment variables QGIS sets for its own Python and GDAL that would make
#: another Python load QGIS's modules or another GDAL's data files.
_QGIS_ONLY_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
    "PROJ_LIB",
    "PROJ_DATA",
    "QGIS_PREFIX_PATH",
)


#: What a soilmap message's advice means in the Processing dialog.
_HINTS = {
    "OutputExistsError": " (In QGIS: tick 'Replace outputs of an earlier run'.)",
}


class EngineNotFound(QgsProcessingException):
    """The soilmap executable is missing or not runnable."""


def command_prefix(setting: str | None) -> list[str]:
    """The command that starts soilmap.

    Parameters
    ----------
    setting : str or None
        Processing ▸ Options ▸ Providers ▸ soilmap ▸ "soilmap executable": the
        ``soilmap`` program, or a Python interpreter with soilmap installed (then
        ``python -m soilmap`` is run).  Empty: ``soilmap`` on PATH.

    Raises
    ------
    EngineNotFound
        The setting names no executable file, or nothing is on PATH.
    """
    if setting:
        path = os.path.expanduser(setting.strip())
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise EngineNotFound(
                f"soilmap executable {path!r} (Processing > Options > Providers > soilmap) "
                "does not exist or cannot be run. Set it to the 'soilmap' program of the "
                "environment soilmap was installed in (e.g. .venv/bin/soilmap)."
            )
        if os.path.basename(path).lower().startswith("python"):
            return [path, "-m", "soilmap"]
        return [path]
    found = shutil.which("soilmap")
    if found is None:
        raise EngineNotFound(
            "the soilmap executable was not found on PATH. Install soilmap "
            "(pip install soilmap-4p1000) and set the path of its 'soilmap' program in "
            "Processing > Options > Providers > soilmap."
        )
    return [found]


def engine_env() -> dict[str, str]:
    """The environment for soilmap: QGIS's without its Python and GDAL settings."""
    env = {k: v for k, v in os.environ.items() if k not in _QGIS_ONLY_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _reader(stream, tag: str, out: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        out.put((tag, line.rstrip("\r\n")))
    stream.close()
    out.put((tag, None))


def _percent(event: dict) -> float | None:
    span = STAGE_SPANS.get(str(event.get("stage")))
    if span is None:
        return None
    start, end = span
    total = event.get("total") or 0
    done = event.get("done") or 0
    share = min(max(done / total, 0.0), 1.0) if total else 1.0
    return start + (end - start) * share


def _interrupt(proc: subprocess.Popen, sig_name: str) -> None:
    if proc.poll() is not None:
        return
    if sys.platform == "win32":
        # No SIGINT for another process on Windows: CTRL_BREAK reaches the group
        # soilmap was started in; terminate is the fall-back.
        if sig_name == "SIGINT":
            proc.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            proc.terminate()
        return
    proc.send_signal(getattr(signal, sig_name))


class Run:
    """One soilmap process fed into a :class:`QgsProcessingFeedback`.

    Attributes
    ----------
    events : list of dict
        The JSON progress events, in order.
    stderr : list of str
        soilmap's messages (also pushed to the log as console output).
    returncode : int or None
    cancelled : bool
    """

    def __init__(self, args: list[str], feedback) -> None:
        self.args = args
        self.feedback = feedback
        self.events: list[dict] = []
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.returncode: int | None = None
        self.cancelled = False
        self._stage: str | None = None

    def _event(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict) or "stage" not in event:
            self.stdout.append(line)
            self.feedback.pushInfo(line)
            return
        self.events.append(event)
        stage = str(event["stage"])
        if stage == "error":
            return
        if stage != self._stage:
            self._stage = stage
            self.feedback.setProgressText(f"soilmap: {stage} {event.get('message', '')}")
            self.feedback.pushInfo(f"soilmap {stage}: {event.get('message', '')}")
        percent = _percent(event)
        if percent is not None:
            self.feedback.setProgress(percent)

    def _handle(self, tag: str, line: str) -> None:
        if tag == "out":
            self._event(line)
        elif line.strip():
            self.stderr.append(line)
            self.feedback.pushConsoleInfo(line)

    def execute(self) -> Run:
        """Run to the end (or to a cancel) and return self; raise on failure."""
        self.feedback.pushCommandInfo(shlex.join(self.args))
        extra = {}
        if sys.platform == "win32":
            extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            # Its own session: a Ctrl+C in QGIS's terminal does not reach it.
            extra["start_new_session"] = True
        try:
            proc = subprocess.Popen(
                self.args,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=engine_env(),
                **extra,
            )
        except OSError as exc:
            raise EngineNotFound(f"cannot start {self.args[0]}: {exc}") from exc
        self._wait(proc)
        return self._result()

    def _wait(self, proc: subprocess.Popen) -> None:
        lines: queue.Queue = queue.Queue()
        for stream, tag in ((proc.stdout, "out"), (proc.stderr, "err")):
            threading.Thread(target=_reader, args=(stream, tag, lines), daemon=True).start()
        open_streams = 2
        cancel_at = None
        escalation = iter(("SIGTERM", "SIGKILL"))
        while open_streams or proc.poll() is None:
            if self.feedback.isCanceled() and cancel_at is None:
                self.cancelled = True
                cancel_at = time.monotonic()
                self.feedback.pushInfo("Cancel: stopping soilmap (its staging folder is removed)")
                _interrupt(proc, "SIGINT")
            elif cancel_at is not None and time.monotonic() - cancel_at > GRACE_S:
                sig = next(escalation, None)
                if sig == "SIGKILL":
                    proc.kill()
                elif sig:
                    _interrupt(proc, sig)
                cancel_at = time.monotonic()
            try:
                tag, line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
            else:
                self._handle(tag, line)
        self.returncode = proc.wait()

    def _result(self) -> Run:
        errors = [e for e in self.events if e.get("stage") == "error"]
        finished = self.returncode == 0 and any(e.get("stage") == "done" for e in self.events)
        if self.cancelled and not finished:
            raise QgsProcessingException(
                f"soilmap stopped on Cancel (exit code {self.returncode}); an interrupted run "
                "leaves the output folder as it was before the run."
            )
        if self.cancelled:
            self.feedback.reportError(
                "soilmap had finished before the Cancel reached it: the outputs are complete."
            )
        if errors:
            message = str(errors[-1].get("message", ""))
            hint = next((h for k, h in _HINTS.items() if message.startswith(k)), "")
            raise QgsProcessingException(f"soilmap: {message}{hint}")
        if self.returncode != 0:
            # Commands without a JSON stream report on stderr (click: "Error: ...").
            tail = "\n".join(self.stderr[-20:]) or f"exit code {self.returncode}"
            raise QgsProcessingException(f"soilmap failed (exit code {self.returncode}):\n{tail}")
        self.feedback.setProgress(100.0)
        return self


def run_soilmap(prefix: list[str], args: list[str], feedback) -> Run:
    """Run ``prefix + args`` and feed ``feedback``; see :class:`Run`."""
    return Run([*prefix, *args], feedback).execute()


def soilmap_commands(prefix: list[str], timeout: float = 60.0) -> set[str]:
    """The sub-commands the installed soilmap offers (from ``soilmap --help``)."""
    try:
        out = subprocess.run(
            [*prefix, "--help"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=engine_env(),
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    commands: set[str] = set()
    in_commands = False
    for line in out.splitlines():
        if line.strip() == "Commands:":
            in_commands = True
        elif in_commands and line.startswith("  ") and line.strip():
            commands.add(line.split()[0])
    return commands
