FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . /src
RUN pip install . \
    && useradd --create-home --uid 10001 socialcare \
    && install -d -o socialcare -g socialcare /home/socialcare/socialcare-data

# The local state (RocksDB) lives in SOCIALCARE_DATA_DIR, by default ./socialcare-data under
# the working directory; the directory exists so a volume mounted there is writable.
USER socialcare
WORKDIR /home/socialcare

EXPOSE 8000
CMD ["socialcare", "worker"]
