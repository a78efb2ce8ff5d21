#!/usr/bin/env bash
# Fails when a file of preload/ includes a header of a layer above its own
# (preload/README.md): base < gates < memory < signals < hardened < learn < telemetry < top.
set -u
cd "$1/preload" || exit 2
layers=(base gates memory signals hardened learn telemetry)
bad=0
for i in "${!layers[@]}"; do
  above=$(IFS='|'; echo "${layers[*]:i+1}")
  above=${above:+$above|}attach
  while IFS= read -r hit; do
    echo "layout: ${layers[i]}/ calls up: $hit"; bad=$((bad + 1))
  done < <(grep -nE "#include \"($above)[/.]" "${layers[i]}"/* 2>/dev/null)
done
[ "$bad" -eq 0 ] && echo "layout: every include points down" || echo "layout: $bad include(s) point up"
exit $((bad > 0))
