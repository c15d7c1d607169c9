"""Channel Access metadata of many PVs at once, as a client sees them.

Run with the test venv's python (pyepics) and the EPICS_CA_* environment of
the server to ask:  ca_metadata.py TIMEOUT_S < names.json
names.json is a JSON list of full PV names. Prints one JSON object: for each
name either {"connected": false} or its field type, element count, EGU, enum
strings and current value. All channels are created first and connect in
parallel; the metadata reads follow, one DBR_CTRL read per PV.
"""
import json
import sys
import time

import epics

FIELD_TYPES = {0: "string", 1: "short", 2: "float", 3: "enum", 4: "char", 5: "long", 6: "double"}


def plain(value):
    """A JSON-able form of a pyepics value (arrays as lists, bytes as str)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value


def describe(pv):
    """Field type, NELM, EGU, enum strings and value of one connected PV."""
    ctrl = pv.get_ctrlvars(timeout=10) or {}
    value = pv.get(use_monitor=False, timeout=10)
    units = ctrl.get("units")
    if isinstance(units, bytes):
        units = units.decode(errors="replace")
    enum_strs = ctrl.get("enum_strs")
    count = pv.nelm
    native = epics.ca.field_type(pv.chid)
    return {
        "connected": True,
        "type": FIELD_TYPES.get(native, f"ftype {native}"),
        "count": count,
        "units": units,
        "enum_strs": [plain(s) for s in enum_strs] if enum_strs is not None else None,
        # whole arrays are not needed: only scalars are compared by value
        "value": plain(value) if count == 1 else None,
    }


def main():
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    names = json.load(sys.stdin)
    pvs = {name: epics.PV(name, auto_monitor=False, connection_timeout=timeout) for name in names}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(pv.connected for pv in pvs.values()):
        time.sleep(0.05)
    out = {}
    for name, pv in pvs.items():
        out[name] = describe(pv) if pv.connected else {"connected": False}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
