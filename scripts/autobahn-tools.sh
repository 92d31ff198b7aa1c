# Sourced by the Autobahn scripts (with ROOT set to the checkout): sets TOOLS to the shared
# Autobahn tools (install.sh, run-*-suite.sh). AUTOBAHN_TOOLS wins; else ../shared beside
# this checkout; else ../shared beside the checkout this one was cloned from (a local clone
# elsewhere, e.g. `git clone . /tmp/ci-check`). Fails loudly when none has them.
TOOLS=${AUTOBAHN_TOOLS:-}
if [ -z "$TOOLS" ]; then
    origin=$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)
    for cand in "$ROOT/../shared/tools/autobahn" ${origin:+"$origin/../shared/tools/autobahn"}; do
        if [ -f "$cand/install.sh" ]; then TOOLS=$cand; break; fi
    done
fi
if [ -z "$TOOLS" ] || [ ! -f "$TOOLS/install.sh" ]; then
    echo "autobahn: the shared Autobahn tools are not at ../shared/tools/autobahn (beside this checkout or its origin); set AUTOBAHN_TOOLS" >&2
    exit 1
fi
