#!/bin/bash
# lipcl CLI end to end: train → eval → export → eval of the export (same accuracy), sv, IDX data, and bad
# input (one-line error, non-zero exit). usage: test_cli.sh LIPCL_BINARY SOURCE_DIR [main|mnist]
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$2" && pwd)
MODE=${3:-main}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
N_CHECKS=0

fail() {
    echo "FAIL: $*"
    for f in "$T"/out "$T"/err; do [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
    exit 1
}
ok() { N_CHECKS=$((N_CHECKS + 1)); }

# run CMD...: stdout in $T/out, stderr in $T/err, status in $RC
run() {
    "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

# expect_ok CMD...: exit 0
expect_ok() {
    run "$@"
    [ "$RC" -eq 0 ] || fail "exit $RC from: $*"
    ok
}

# expect_error RC PATTERN CMD...: exit status RC and exactly one stderr line, matching PATTERN
expect_error() {
    local want=$1 pat=$2
    shift 2
    run "$@"
    [ "$RC" -eq "$want" ] || fail "expected exit $want, got $RC from: $*"
    local lines
    lines=$(grep -c . "$T/err")
    [ "$lines" -eq 1 ] || fail "expected one error line, got $lines from: $*"
    grep -q -- "$pat" "$T/err" || fail "error of '$*' does not say '$pat': $(cat "$T/err")"
    ok
}

# value KEY FILE: the number after "KEY: "
value() { sed -n "s/^$1: \([-0-9.e+]*\).*/\1/p" "$2" | head -n 1; }

# close A B TOL: |A - B| <= TOL
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }

HAVE_FILES=0
run "$BIN" --help
grep -q "model files: yes" "$T/out" && HAVE_FILES=1

if [ "$MODE" = mnist ]; then
    DATA=/work/shared/data/mnist-t10k
    [ -d "$DATA" ] || { echo "SKIP: $DATA absent"; exit 77; }
    # MNIST 0 vs 8 on a few hundred t10k images, one epoch; then the 10-class MLP.
    expect_ok "$BIN" train --model "$SRC/examples/models/binary_cnn.cfg" --data "$DATA" --split t10k --classes 0,8 \
        --limit 300 --epochs 1 --batch 64 --no-save --eval --quiet --eps 0.1
    acc=$(value "clean accuracy" "$T/out")
    [ -n "$acc" ] || fail "no clean accuracy printed"
    expect_ok "$BIN" train --model "$SRC/examples/models/mlp.cfg" --data "$DATA" --split t10k --limit 512 \
        --val-split 0.75 --epochs 1 --batch 128 --lr 0.01 --no-save --eval --quiet
    grep -q "^certified accuracy (eps=0.5): " "$T/out" || fail "no certified accuracy"
    echo "PASS: $N_CHECKS checks (binary clean accuracy $acc)"
    exit 0
fi

# ---- help on every subcommand ----------------------------------------------------------------------
for c in train eval export sv info; do
    expect_ok "$BIN" "$c" --help
    grep -q "^usage: lipcl $c" "$T/out" || fail "'lipcl $c --help' prints no usage line"
done

# ---- bad command lines: one line, exit 2 -----------------------------------------------------------
M="$SRC/examples/models/moons.cfg"
expect_error 2 "unknown command 'trian'" "$BIN" trian
expect_error 2 "a command is required" "$BIN"
expect_error 2 "--model FILE.cfg is required" "$BIN" train --data moons
expect_error 2 "--data SPEC is required" "$BIN" train --model "$M"
expect_error 2 "--epochs needs a whole number >= 1, not '0'" "$BIN" train --model "$M" --data moons --epochs 0
expect_error 2 "--batch needs a whole number >= 1, not 'x'" "$BIN" train --model "$M" --data moons --batch x
expect_error 2 "--lr needs a finite number" "$BIN" train --model "$M" --data moons --lr nan
expect_error 2 "--epochs needs a value" "$BIN" train --model "$M" --data moons --epochs
expect_error 2 "unknown argument '--frobnicate'" "$BIN" train --model "$M" --data moons --frobnicate
expect_error 2 "unknown loss 'Hinge2'" "$BIN" train --model "$M" --data moons --loss Hinge2
expect_error 2 "--optimizer must be adam or sgd" "$BIN" train --model "$M" --data moons --optimizer rmsprop
expect_error 2 "--eps radii must be >= 0" "$BIN" eval "$M" --data moons --eps 0.1,-1
expect_error 2 "--classes needs two different class numbers" "$BIN" eval "$M" --data moons --classes 3,3
expect_error 2 "the MODEL file is required" "$BIN" sv
expect_error 2 "unknown argument 'b'" "$BIN" export a b --out c
expect_error 2 "--format must be lipcl or safetensors" "$BIN" export "$M" --out x --format onnx
expect_error 2 "not a number" "$BIN" train --model "$M" --data moons:abc --no-save

# ---- bad files: one line naming the file (and line), exit 1 -------------------------------------------
expect_error 1 "no-such.cfg: cannot open" "$BIN" train --model "$T/no-such.cfg" --data moons --no-save
printf 'input 2\n# a comment\nSpectralDens units=4\n' >"$T/bad1.cfg"
expect_error 1 "bad1.cfg:3: unknown layer type 'SpectralDens'" "$BIN" sv "$T/bad1.cfg"
printf 'input 2\nSpectralDense units=4 unit=3   # typo\n' >"$T/bad2.cfg"
expect_error 1 "bad2.cfg:2: unknown key 'unit' for SpectralDense (keys: name, units" "$BIN" sv "$T/bad2.cfg"
printf 'input 2\nSpectralDense units=four\n' >"$T/bad3.cfg"
expect_error 1 "bad3.cfg:2: SpectralDense: units=four is not a whole number" "$BIN" sv "$T/bad3.cfg"
printf 'SpectralDense units=4\n' >"$T/bad4.cfg"
expect_error 1 "bad4.cfg:1: the first line must be 'input" "$BIN" sv "$T/bad4.cfg"
printf 'input 2\nSpectralDense units=0\n' >"$T/bad5.cfg"
expect_error 1 "bad5.cfg:2: SpectralDense.*units" "$BIN" sv "$T/bad5.cfg"
printf 'input 2\nGroupSort2 k=2 k=3\n' >"$T/bad6.cfg"
expect_error 1 "bad6.cfg:2: GroupSort2: key 'k' given twice" "$BIN" sv "$T/bad6.cfg"
printf 'input 2\nSpectralConv2D filters=4 kernel=3\n' >"$T/bad7.cfg"
expect_error 1 "bad7.cfg: building the model" "$BIN" sv "$T/bad7.cfg"
printf 'input 2\nSpectralDense units=4 init=gaussian\n' >"$T/bad8.cfg"
expect_error 1 "bad8.cfg:2: SpectralDense: init=gaussian is not one of default, glorot_uniform" "$BIN" sv "$T/bad8.cfg"
expect_error 1 "no-such-dir" "$BIN" train --model "$M" --data "$T/no-such-dir" --no-save
if [ "$HAVE_FILES" = 1 ]; then
    printf 'not a model file' >"$T/junk.lipcl"
    expect_error 1 "junk.lipcl" "$BIN" eval "$T/junk.lipcl" --data moons
fi

# ---- every example description parses and builds ------------------------------------------------------
for f in "$SRC"/examples/models/*.cfg; do
    expect_ok "$BIN" sv "$f"
    grep -q "^model lipschitz bound: " "$T/out" || fail "sv $f prints no model bound"
done

# ---- sv: singular values of the effective kernels of an untrained moons model ---------------------------
expect_ok "$BIN" sv "$M" --all
# SpectralDense: every singular value of W̄ is k = 1 (Björck); the Frobenius head (one unit) has norm 1.
for layer in dense1 dense2 out; do
    line=$(grep "^[0-9]* *$layer " "$T/out") || fail "sv prints no line for $layer"
    smax=$(echo "$line" | awk '{print $5}')
    close "$smax" 1 2e-3 || fail "sv: sigma_max of $layer is $smax, not 1"
done
smin=$(grep "^[0-9]* *dense2 " "$T/out" | awk '{print $6}')
close "$smin" 1 2e-3 || fail "sv: sigma_min of dense2 is $smin, not 1 (orthogonal W̄)"
grep -q "^model lipschitz bound: 1" "$T/out" || fail "sv: model bound is not 1"
ok
# a conv model: σ_max of each strict SpectralConv2D operator (power iteration) is at most its bound 1
expect_ok "$BIN" sv "$SRC/examples/models/quickstart.cfg"
for layer in conv1 conv2; do
    line=$(grep "^[0-9]* *$layer .*operator" "$T/out") || fail "sv prints no operator line for $layer"
    smax=$(echo "$line" | awk '{print $5}')
    awk -v s="$smax" 'BEGIN { exit !(s > 0.1 && s <= 1.001) }' || fail "sv: operator sigma_max of $layer is $smax"
done
grep -q "^product of the measured sigma_max: " "$T/out" || fail "sv: no product line"
ok

# ---- train → eval → export → eval (two moons, 2 epochs) --------------------------------------------------
cd "$T" || fail "cd $T"
if [ "$HAVE_FILES" = 1 ]; then
    expect_ok "$BIN" train --model "$M" --data moons:400:0.1 --epochs 2 --batch 100 --seed 3 --out "$T/moons.lipcl" \
        --eval --quiet
    [ -s "$T/moons.lipcl" ] || fail "train wrote no model file"
    [ -s "$T/moons.csv" ] || fail "train wrote no history CSV next to the model"
    [ "$(head -n 1 "$T/moons.csv" | cut -d, -f1)" = epoch ] || fail "history CSV header: $(head -n 1 "$T/moons.csv")"
    [ "$(wc -l <"$T/moons.csv")" -eq 3 ] || fail "history CSV should hold a header and 2 epochs"
    train_acc=$(value "clean accuracy" "$T/out")
    ok
    # the saved model on the same data (train's seed gives the same moons) has the accuracy train printed
    expect_ok "$BIN" eval "$T/moons.lipcl" --data moons:400:0.1 --seed 3 --eps 0.05,0.2
    acc=$(value "clean accuracy" "$T/out")
    close "$acc" "$train_acc" 0.0021 || fail "eval of the saved model: accuracy $acc, train printed $train_acc"
    factor=$(value "certificate factor" "$T/out")
    close "$factor" 1 1e-3 || fail "moons (one output, 1-Lipschitz): factor $factor, not 1"
    cert=$(value "certified accuracy (eps=0.2)" "$T/out")
    awk -v c="$cert" -v a="$acc" 'BEGIN { exit !(c <= a) }' || fail "certified accuracy $cert above clean $acc"
    # eval on fresh samples
    expect_ok "$BIN" eval "$T/moons.lipcl" --data moons:400:0.1 --eps 0.05,0.2 --factor 1
    acc1=$(value "clean accuracy" "$T/out")
    cert1=$(value "certified accuracy (eps=0.2)" "$T/out")
    radius1=$(value "mean certified radius" "$T/out")
    # the vanilla export computes the same function
    expect_ok "$BIN" export "$T/moons.lipcl" --out "$T/moons-vanilla.lipcl"
    expect_ok "$BIN" eval "$T/moons-vanilla.lipcl" --data moons:400:0.1 --eps 0.05,0.2 --factor 1
    [ "$(value "clean accuracy" "$T/out")" = "$acc1" ] || fail "export: accuracy $(value "clean accuracy" "$T/out") != $acc1"
    close "$(value "certified accuracy (eps=0.2)" "$T/out")" "$cert1" 0.0051 || fail "export: certified accuracy differs"
    close "$(value "mean certified radius" "$T/out")" "$radius1" 1e-3 || fail "export: mean radius differs"
    expect_ok "$BIN" sv "$T/moons-vanilla.lipcl"
    grep -q "Dense" "$T/out" || fail "sv of the vanilla model lists no Dense layer"
    expect_ok "$BIN" export "$T/moons.lipcl" --out "$T/moons.safetensors"
    [ -s "$T/moons.safetensors" ] || fail "no safetensors file"
    head -c 200 "$T/moons.safetensors" | grep -a -q '"dtype"' || fail "safetensors header has no dtype"
    ok
else
    echo "note: this build has no model files; testing train --eval only"
fi
# train → eval in one process, SGD, loss parameters, validation data
expect_ok "$BIN" train --model "$M" --data moons:300 --val-data moons:200 --epochs 2 --batch 100 --optimizer sgd \
    --lr 0.05 --momentum 0.9 --alpha 20 --min-margin 0.5 --no-save --eval --eps 0.1
grep -q "^certified accuracy (eps=0.1): " "$T/out" || fail "train --eval prints no certified accuracy"
grep -q "^samples: 200" "$T/out" || fail "train --eval did not use the 200 validation samples"
# history only, no model file
expect_ok "$BIN" train --model "$M" --data moons:100 --epochs 1 --batch 100 --history "$T/h.csv" --quiet --no-save
[ ! -e "$T/h.csv" ] || fail "--no-save wrote the history"
printf 'input 2\nSpectralDense units=16 bias=1\nMaxMin\nFrobeniusDense units=2 disjoint=0 name=head\n' >"$T/two.cfg"
expect_ok "$BIN" train --model "$T/two.cfg" --data circles:200 --epochs 1 --batch 100 --loss MulticlassHinge --no-save --eval --quiet
factor=$(value "certificate factor" "$T/out")
close "$factor" 1.41421 1e-4 || fail "two outputs, whole-kernel head: factor $factor, not sqrt(2)"
expect_error 2 "--classes needs a model with one output" "$BIN" train --model "$T/two.cfg" --data circles:20 \
    --classes 0,1 --no-save

# ---- IDX data written here: 12 images 4x4, classes 0/1 -------------------------------------------------------
mkdir -p "$T/idx"
{
    printf '\x00\x00\x08\x03\x00\x00\x00\x0c\x00\x00\x00\x04\x00\x00\x00\x04'
    for i in $(seq 0 11); do
        for p in $(seq 0 15); do printf "\\x$(printf %02x $(((i * 37 + p * 11) % 256)))"; done
    done
} >"$T/idx/train-images-idx3-ubyte"
{
    printf '\x00\x00\x08\x01\x00\x00\x00\x0c'
    for i in $(seq 0 11); do printf "\\x$(printf %02x $((i % 2)))"; done
} >"$T/idx/train-labels-idx1-ubyte"
printf 'input 4 4 1\nSpectralConv2D filters=4 kernel=3\nGroupSort2\nScaledL2NormPooling2D\nFlatten\nFrobeniusDense units=1\n' \
    >"$T/tiny.cfg"
expect_ok "$BIN" train --model "$T/tiny.cfg" --data "$T/idx" --epochs 1 --batch 5 --no-save --eval --quiet
grep -q "^samples: 12" "$T/out" || fail "IDX: expected 12 samples"
expect_ok "$BIN" train --model "$T/tiny.cfg" --data "$T/idx" --limit 7 --epochs 1 --no-save --eval --quiet
grep -q "^samples: 7" "$T/out" || fail "IDX --limit 7: expected 7 samples"
expect_error 1 "t10k" "$BIN" eval "$T/tiny.cfg" --data "$T/idx"
head -c 20 "$T/idx/train-images-idx3-ubyte" >"$T/idx/t10k-images-idx3-ubyte"
cp "$T/idx/train-labels-idx1-ubyte" "$T/idx/t10k-labels-idx1-ubyte"
expect_error 1 "t10k-images-idx3-ubyte" "$BIN" eval "$T/tiny.cfg" --data "$T/idx"

echo "PASS: $N_CHECKS checks"
