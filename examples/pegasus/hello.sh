#!/bin/sh
echo "hello from $PEGASUS_JOB_NAME"
echo "the input says: $(cat greeting.txt)"
echo "a note on stderr" >&2
