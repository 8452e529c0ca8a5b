#!/bin/sh
echo "starting the part that fails"
echo "fail.sh: the data is not there" >&2
exit 1
