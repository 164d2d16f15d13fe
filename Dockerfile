FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    SPAMFILTER_STATE_DIR=/data SPAMFILTER_BIND=0.0.0.0:8000

RUN useradd --create-home --uid 10001 spamfilter && mkdir /data && chown spamfilter /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY spamfilter spamfilter
COPY training training
COPY service service
COPY models models
RUN pip install . && rm -rf /root/.cache

USER spamfilter
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["spamfilter", "serve"]
