"""`python -m streamfeed.cli`: the console script, for environments without it on PATH."""

from streamfeed.cli import main

main()
