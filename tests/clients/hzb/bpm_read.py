"""The BPM device alone: trigger (next MDIZ2T5G:bdata within 3 s) and read,
a few times. Prints one JSON object on stdout: the BPM names and slots of
the configuration and, per reading, the decoded x/y (raw counts as in bdata,
and metres) and MDIZ2T5G:count.

.venv-hzb/bin/python tests/clients/hzb/bpm_read.py --prefix TWIN: --n 3
"""
import argparse
import json
import time

from hzb_devices import PackedBPM


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prefix", default="TWIN:")
    p.add_argument("--n", type=int, default=3)
    args = p.parse_args()
    bpm = PackedBPM(args.prefix + "MDIZ2T5G", name="bpm")
    bpm.wait_for_connection(timeout=10)
    out = {"names": list(bpm.bpm_names), "slots": [int(i) for i in bpm.indices], "readings": []}
    for _ in range(args.n):
        t0 = time.monotonic()
        bpm.trigger().wait(timeout=5)
        waited = time.monotonic() - t0
        data = bpm.read()
        out["readings"].append({
            "waited_s": round(waited, 3),
            "count": int(data["bpm_count"]["value"]),
            **{k: data[f"bpm_{k}"]["value"].tolist() for k in ("x_raw", "y_raw", "x", "y", "stat")},
        })
    out["describe_keys"] = sorted(bpm.describe())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
