"""Reads the betatron tunes through pyAML's tune tool and prints them as JSON.

Run with .venv-pyaml/bin/python (accelerator-middle-layer 0.3.2 with its EPICS
backend pyaml-cs-oa); the EPICS_CA_* variables of the environment say where
the IOC is.

usage: read_tunes.py [CONFIG]   (default: bessy2.yaml next to this script)

Prints one line: {"tool": ..., "monitor": ..., "pvs": [...], "tunes": [qx, qy],
"monitor_tunes": [qx, qy]} where "tunes" is the tune tool's readback
(sr.live.tool.tune, the DEFAULT_TUNE_CORRECTION tool) and "monitor_tunes" the
same read through its BetatronTuneMonitor directly.
"""
import json
import pathlib
import sys

from pyaml.accelerator import Accelerator


def main():
    config = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("bessy2.yaml")
    sr = Accelerator.load(str(config))
    tune_tool = sr.live.tool.tune
    tunes = tune_tool.readback()
    monitor = tune_tool.tune_monitor
    print(json.dumps({
        "tool": tune_tool.get_name(),
        "monitor": monitor.get_name(),
        "pvs": [monitor.tune_h, monitor.tune_v],
        "tunes": [float(q) for q in tunes],
        "monitor_tunes": [float(q) for q in monitor.tune.get()],
    }))


if __name__ == "__main__":
    main()
