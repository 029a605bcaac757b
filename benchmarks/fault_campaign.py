"""A campaign of bad inputs and faults: every one must end in one clean line.

    python benchmarks/fault_campaign.py [--n 40] [--seed 0] [--kills 6]

1. **Mangled files**: from a synthetic ``.ctf``, ``.ang``-like and ``.ebsd.h5`` map and
   every real map of ``../shared/data``, ``--n`` variants each: truncated at a random byte,
   random bytes overwritten, a random line deleted or duplicated, numbers replaced by NaN,
   -1, 0, 1e308, the header cut, an empty file. Each is read with ``read_map`` in this
   process under a 20 s alarm and counted: read, clean error (an ``EbsdphaseError``: one
   line naming the file), traceback (any other exception), hang.
2. **kill -9**: ``ebsdphase predict`` on a folder of maps is killed at a random moment
   ``--kills`` times; after each kill no file under a final name may be unreadable, and the
   next run must remove the ``.part`` files and finish (exit 0).

Prints the counts (the figures of the faults issue's note).
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class _Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ANN001
    raise _Hang()


def mangle(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """Variants of a file's bytes, named by what was done."""
    out = [("empty", b""), ("header only", data[: min(len(data), 200)])]
    lines = data.split(b"\n")
    for _ in range(2):
        cut = rng.randrange(1, max(2, len(data)))
        out.append((f"truncated at {cut}", data[:cut]))
        buf = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        out.append(("random bytes", bytes(buf)))
        if len(lines) > 3:
            i = rng.randrange(len(lines))
            out.append((f"line {i} deleted", b"\n".join(lines[:i] + lines[i + 1:])))
            out.append((f"line {i} doubled", b"\n".join(lines[:i + 1] + lines[i:])))
        for bad in (b"NaN", b"-1", b"0", b"1e308", b"inf", b"-3"):
            words = data.split(b" ")
            if len(words) > 10:
                j = rng.randrange(len(words))
                out.append((f"word {j} -> {bad.decode()}", b" ".join(words[:j] + [bad] + words[j + 1:])))
    return out


def campaign(sources: list[Path], n: int, seed: int, work: Path) -> dict:
    from ebsdphase import EbsdphaseError, read_map

    import warnings

    warnings.simplefilter("ignore")  # the warnings of odd-but-readable files are not what is counted
    rng = random.Random(seed)
    counts = {"inputs": 0, "read": 0, "clean errors": 0, "tracebacks": 0, "hangs": 0}
    examples: list[str] = []
    signal.signal(signal.SIGALRM, _alarm)
    for src in sources:
        data = src.read_bytes()
        variants = mangle(data, rng)
        rng.shuffle(variants)
        for k, (what, blob) in enumerate(variants[:n]):
            path = work / f"{src.stem.split('.')[0]}_{k}{''.join(src.suffixes)}"
            path.write_bytes(blob)
            counts["inputs"] += 1
            signal.alarm(20)
            try:
                read_map(path)
                counts["read"] += 1
            except EbsdphaseError as exc:
                counts["clean errors"] += 1
                if "\n" in str(exc) or str(path) not in str(exc):
                    counts["tracebacks"] += 1
                    examples.append(f"{path.name} ({what}): not one line naming the file: {exc}")
            except _Hang:
                counts["hangs"] += 1
                examples.append(f"{path.name} ({what}): hang")
            except Exception as exc:  # noqa: BLE001 - what the campaign looks for
                counts["tracebacks"] += 1
                examples.append(f"{path.name} ({what}): {type(exc).__name__}: {exc}")
            finally:
                signal.alarm(0)
            path.unlink()
    counts["examples"] = examples[:10]
    return counts


def kill_trials(maps: Path, model: str, kills: int, seed: int, work: Path) -> dict:
    from ebsdphase.prediction.result import read_prediction

    rng = random.Random(seed)
    out = work / "killed"
    counts = {"kills": 0, "half files": 0, "parts left after the next run": 0, "next run failed": 0}
    cmd = [sys.executable, "-m", "ebsdphase.cli.main", "predict", str(maps), "--model", model, "-o", str(out),
           "--ctf", "--force"]
    for _ in range(kills):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(4.0, 14.0))
        proc.kill()
        proc.wait()
        counts["kills"] += 1
        for f in out.glob("*.phases.h5") if out.exists() else []:
            try:
                read_prediction(f)
            except Exception:  # noqa: BLE001
                counts["half files"] += 1
        for p in out.glob(".*.part*") if out.exists() else []:
            import os

            os.utime(p, (time.time() - 3600, time.time() - 3600))  # as if the kill was a while ago
    done = subprocess.run(cmd[:-1], capture_output=True, text=True)
    counts["next run failed"] += int(done.returncode != 0)
    counts["parts left after the next run"] = len(list(out.glob(".*.part*")))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--model", default="dp-kam")
    args = ap.parse_args()

    from ebsdphase import write_map
    from ebsdphase.evaluation.checks import shared_data_dir
    from ebsdphase.synth import generate

    work = Path(tempfile.mkdtemp(prefix="ebsdphase-faults-"))
    ebsd, _ = generate("t2", seed=1, shape=(64, 80))
    sources = [write_map(ebsd, work / "synth.ctf"), write_map(ebsd, work / "synth.ebsd.h5")]
    data = shared_data_dir(Path(__file__))
    if data is not None:
        sources += sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() in
                          (".ctf", ".ang", ".txt", ".osc", ".cpr", ".h5", ".h5oina", ".oh5")
                          and p.stat().st_size < 8_000_000 and "README" not in p.name)
    mangled = work / "mangled"
    mangled.mkdir()
    c = campaign(sources, args.n, args.seed, mangled)
    print(f"mangled inputs: {c['inputs']} from {len(sources)} files; read {c['read']}, clean errors "
          f"{c['clean errors']}, tracebacks {c['tracebacks']}, hangs {c['hangs']}")
    for e in c["examples"]:
        print("  ", e)
    maps = work / "maps"
    maps.mkdir()
    for i in range(8):
        m, _ = generate("t2", seed=100 + i, shape=(256, 320))
        write_map(m, maps / f"m{i}.ctf")
    k = kill_trials(maps, args.model, args.kills, args.seed, work)
    print(f"kill -9 trials: {k['kills']}; half files under a final name {k['half files']}; "
          f".part files left after the next run {k['parts left after the next run']}; "
          f"next run failed {k['next run failed']}")


if __name__ == "__main__":
    main()
