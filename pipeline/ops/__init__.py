"""Operations on a running pipeline: rebuild, dead letters, group status, tear-down of runs."""
