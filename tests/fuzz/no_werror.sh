#!/bin/sh
# Compiler launcher of the fuzz tree: clang warns where gcc (the compiler our
# -Werror is kept clean for) does not; the last -W flag wins.
exec "$@" -Wno-error
