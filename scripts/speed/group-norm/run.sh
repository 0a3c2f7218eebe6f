#!/usr/bin/env bash
# GroupNorm(32, 64) over [32, 64, 32, 32], one thread, thread CPU time (docs/benchmarks.md, "GroupNorm"): compiles
# GroupNormStep.java with Kiln's annotation processor (so GnBlock gets its KilnGnBlock), runs it at -Dkiln.threads=1,
# then PyTorch's peer in the same command. Needs the modules' classes (mvn -B -o -q compile).
#   scripts/speed/group-norm/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
javapoet="$(find ~/.m2/repository/com/palantir/javapoet -name 'javapoet-*.jar' | head -1)"
# the runtime's JavaCPP and OpenBLAS jars (Blas) from the local repository
deps="$(find ~/.m2/repository/org/bytedeco/javacpp ~/.m2/repository/org/bytedeco/openblas -name '*.jar' \
  \( -name '*-1.5.13.jar' -o -name '*-linux-x86_64.jar' \) | tr '\n' ':')"
cp="$root/runtime/target/classes:$root/dsl/target/classes:$deps"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
javac -nowarn -cp "$cp" -processorpath "$root/processor/target/classes:$cp:$javapoet" -d "$work" "$here/GroupNormStep.java"
java -Dkiln.threads=1 -cp "$cp:$work" speed.GroupNormStep
echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), one thread"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/group_norm_peer.py"
