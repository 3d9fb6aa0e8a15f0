# DL Studio in a container: the same install script as `make run`, served on port 7860.
#   docker build -t dl-studio .
#   docker run -p 7860:7860 -v dlstudio-data:/data dl-studio
# Runs, uploads and checkpoints live in /data (a volume), so they survive container restarts.
FROM python:3.11-slim-bookworm

RUN useradd --create-home --uid 1000 app \
    && mkdir /data && chown app:app /data
WORKDIR /app

# Dependencies first, so that code changes do not reinstall them.
ENV VENV=/opt/venv PYTHON=python3.11
COPY requirements.txt requirements-offline.txt ./
COPY scripts/install.sh scripts/
RUN scripts/install.sh && rm -rf /root/.cache/pip

COPY --chown=app:app . .
ENV PATH=/opt/venv/bin:$PATH \
    DLSTUDIO_DATA=/data \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False
VOLUME /data
USER app
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"
CMD ["python", "app.py"]
