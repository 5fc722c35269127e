"""Issue #11 with real processes: two writers on one index, kill -9, and Ctrl-C (SIGINT).

Each test starts ``evalsearch index`` as its own process on 600 generated sheets (long enough
to act on it mid-run) and watches it from outside, as a colleague or a terminal would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE_DUMP

EVALSEARCH = Path(sys.executable).with_name("evalsearch")


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "generate.py"), "--n", "600", "--out", str(root)],
        check=True,
        capture_output=True,
    )
    return root / "sheets"


def _default_sigint() -> None:
    # A shell runs background jobs with SIGINT ignored, and an ignored signal stays ignored
    # across exec: give the child the terminal's default, as a user's Ctrl-C would find it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EVALSEARCH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVALSEARCH), *args], capture_output=True, text=True, timeout=300, check=False
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"{what}: the run ended first ({process.returncode})"
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def stagings(index: Path) -> list[Path]:
    return sorted(index.parent.glob(f".{index.name}.staging-*"))


def records(index: Path) -> int:
    return json.loads((index / "manifest.json").read_text("utf-8"))["records"]


def processes_on(index: Path) -> list[int]:
    """Live processes whose command line names ``index`` (a run's workers included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if str(index) in command and state != "Z":
            found.append(int(entry.name))
    return found


def test_a_second_index_run_on_the_same_index_stops_with_a_message(
    sheets: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    assert run("index", str(SAMPLE_DUMP), "--index", str(index)).returncode == 0
    lock = tmp_path / ".index.lock"
    first = start("index", str(sheets), "--index", str(index))
    try:
        wait_for(
            lambda: stagings(index) and lock.read_text().strip() == str(first.pid),
            first,
            "the first run takes the lock and starts its staging copy",
        )
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "sample-copy.txt").write_text(
            SAMPLE_DUMP.read_text("utf-8").replace("12276", "92276").replace("12770", "92770"),
            "utf-8",
        )
        second = run("index", str(extra), "--index", str(index))
        # Readers are never blocked: the index before the first run answers meanwhile.
        search = run("search", "交流", "--index", str(index), "--format", "json")
        assert first.poll() is None, "the first run must still hold the lock"
    finally:
        out, err = first.communicate(timeout=600)
    assert second.returncode == 1
    assert second.stdout == ""
    assert second.stderr.strip() == (
        f"エラー: 索引 {index} は別の `evalsearch index`（PID {first.pid}）が更新中です。"
        "終わってからもう一度実行してください（検索はその間も使えます）。"
    )
    assert search.returncode == 0 and json.loads(search.stdout)["total"] == 2
    assert first.returncode == 0, err
    assert "更新しました" in out and "Traceback" not in err
    # Nothing of the first run is lost: the sample and all 600 generated sheets.
    assert records(index) == 602
    assert not stagings(index)
    # The second run, once the first is done, adds its sheets to them.
    assert run("index", str(extra), "--index", str(index)).returncode == 0
    assert records(index) == 604


def test_kill_9_leaves_no_worker_tracebacks_and_the_next_run_cleans_up(
    sheets: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    process = start("index", str(sheets), "--index", str(index))
    wait_for(lambda: bool(stagings(index)), process, "the run starts its staging copy")
    time.sleep(1.0)  # the workers are parsing
    os.kill(process.pid, signal.SIGKILL)
    # The workers hold the pipes: reading to the end waits for every one of them to exit.
    _out, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert err.strip() == ""
    deadline = time.monotonic() + 10
    while processes_on(index) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_on(index) == []
    (left,) = stagings(index)  # what the killed run could not remove
    assert not index.exists()
    result = run("index", str(SAMPLE_DUMP), "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert not left.exists() and not stagings(index)
    assert records(index) == 2


def test_ctrl_c_prints_one_line_exits_130_and_leaves_no_staging(
    sheets: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    assert run("index", str(SAMPLE_DUMP), "--index", str(index)).returncode == 0
    process = start("index", str(sheets), "--index", str(index))
    wait_for(lambda: bool(stagings(index)), process, "the run starts its staging copy")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert err.splitlines() == ["中断しました（索引は前のまま使えます）。"], err
    assert "更新しました" not in out
    assert not stagings(index)
    assert records(index) == 2  # the index before the run, untouched
    search = run("search", "交流", "--index", str(index), "--format", "json")
    assert json.loads(search.stdout)["total"] == 2
