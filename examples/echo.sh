#!/bin/sh
# A worker in sh: voidrail dealer --exec "sh echo.sh" --service Sh
# Each request's arguments come back as its result.  It relies on the
# fixed form of request lines: {"id": N, "method": "...", "args": [...],
# "kwargs": {...}}.
echo '{"methods": {"echo": {"description": "returns its arguments"}}}'
while read -r line; do
    id=${line#'{"id": '}; id=${id%%,*}
    args=${line#*'"args": '}; args=${args%', "kwargs": '*}
    echo "{\"id\": $id, \"result\": $args}"
done
