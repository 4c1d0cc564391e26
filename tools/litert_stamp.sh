# Sourced by tools/install.sh and tools/build_app.sh: the one definition of what the bundled
# LiteRT graphs in resources/litert were derived from (every bundled model and the way graphs
# are made, litert_export.py). install.sh writes it beside the graphs (.models-sha256);
# build_app.sh copies those graphs instead of deriving them again when it still matches.
litert_stamp() {
  sha256sum resources/models/*.pneumonet pneumonet_core/inference/litert_export.py 2>/dev/null \
    | sha256sum | cut -d' ' -f1
}
