"""The ctypes declarations agree with include/sdrt.h as the C compiler sees it: every
struct's size and every field's offset and size (a C program generated from the ctypes
classes prints them), every enumerator's value, and every declared function is bound. A
header change that the binding does not follow fails here instead of corrupting memory."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess

from conftest import ROOT, cc

from sdrt import _native as n

HEADER = os.path.join(ROOT, "include", "sdrt.h")


def header_text() -> str:
    text = open(HEADER).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def test_struct_layouts_match_the_c_compiler(build_dir):
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "sdrt.h"', "",
             "int main(void) {"]
    want = []
    for s in n.STRUCTS:
        name = s.__name__
        lines.append(f'    printf("size {name} %zu\\n", sizeof({name}));')
        want.append(f"size {name} {ctypes.sizeof(s)}")
        for field, ctype in s._fields_:
            lines.append(f'    printf("field {name}.{field} %zu %zu\\n", '
                         f"offsetof({name}, {field}), sizeof((({name} *)0)->{field}));")
            want.append(f"field {name}.{field} {getattr(s, field).offset} "
                        f"{ctypes.sizeof(ctype)}")
        lines.append(f'    printf("align {name} %zu\\n", _Alignof({name}));')
        want.append(f"align {name} {ctypes.alignment(s)}")
    lines += ["    return 0;", "}", ""]
    src = os.path.join(build_dir, "layout.c")
    with open(src, "w") as f:
        f.write("\n".join(lines))
    exe = cc(build_dir, "layout", [src])
    got = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split("\n")
    assert [line for line in got if line] == want


def test_every_header_struct_is_declared():
    declared = set(re.findall(r"typedef struct (sdrt_\w+) \{", header_text()))
    assert declared == {s.__name__ for s in n.STRUCTS}


def test_init_sized_sets_struct_size_to_the_binding_size():
    lib = n.lib()
    for s, fn in ((n.sdrt_generate_params, lib.sdrt_generate_params_init_sized),
                  (n.sdrt_pipeline_options, lib.sdrt_pipeline_options_init_sized),
                  (n.sdrt_pipeline_info, lib.sdrt_pipeline_info_init_sized),
                  (n.sdrt_runtime_options, lib.sdrt_runtime_options_init_sized)):
        v = s()
        fn(ctypes.byref(v), ctypes.sizeof(v))
        assert v.struct_size == ctypes.sizeof(s), s.__name__


def test_enumerators_match_the_header():
    values = {name: int(v) for name, v in re.findall(r"\b(SDRT_\w+) = (\d+),", header_text())}
    assert len(values) > 50
    ours = {k: v for k, v in vars(n).items() if k.startswith("SDRT_") and k != "SDRT_OK"
            and not k.startswith("SDRT_ABI") and k != "SDRT_MAX_LORAS_PER_CALL"}
    ours["SDRT_OK"] = n.SDRT_OK
    assert ours == values
    abi = re.search(r"#define SDRT_ABI_VERSION (\d+)", header_text()).group(1)
    assert n.SDRT_ABI_VERSION == int(abi)
    most = re.search(r"#define SDRT_MAX_LORAS_PER_CALL (\d+)", header_text()).group(1)
    assert n.SDRT_MAX_LORAS_PER_CALL == int(most)


def test_every_header_function_is_bound():
    declared = set(re.findall(r"^\S[^\n(]*?\b(sdrt_\w+)\(", header_text(), flags=re.M))
    bound = {name for name, _, _ in n._PROTOTYPES}
    assert len(declared) >= 25
    assert declared == bound | n.UNBOUND
