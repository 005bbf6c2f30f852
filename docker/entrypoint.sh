#!/bin/sh
# The container's start: migrate, seed the sample data only in development, serve.
# In production (TMA_ENV=production) nothing is seeded: the sample accounts have known
# passwords. Create the first admin with
#   docker exec -it tma_backend poetry run tma create-admin NAME EMAIL
# TMA_WORKERS sets the number of worker processes (default 1; one per core).
set -eu
poetry run tma db upgrade
if [ "${TMA_ENV:-development}" = "development" ]; then
  poetry run tma seed --if-empty
else
  echo "TMA_ENV=${TMA_ENV}: no sample data; create the first admin with tma create-admin"
fi
exec poetry run tma serve --host 0.0.0.0 --port 8000 --workers "${TMA_WORKERS:-1}"
