# DL Studio in a container: the same install script as `make run`, served on port 7860.
#
#   docker build -t dl-studio .                                  # CPU image (default)
#   docker run -p 7860:7860 -v dlstudio-data:/data dl-studio
#   docker run --rm -v dlstudio-data:/data dl-studio dlstudio train loan_exp1   # any verb
#
#   docker build --build-arg DEVICE=gpu -t dl-studio:gpu .       # GPU image: onnxruntime-gpu
#   docker run --gpus all -p 7860:7860 -v dlstudio-data:/data dl-studio:gpu
#
# Runs, uploaded files and trained models live in /data (a volume), so they survive restarts.
# Every step is explained in docs/deploy.md; tests/test_container.py lints this file.
FROM python:3.11-slim-bookworm

# cpu: the CPU build of ONNX Runtime (install.sh --cpu). gpu: exactly `make run`'s packages
# (onnxruntime-gpu; PyTorch's CUDA wheels bring the CUDA libraries), for `docker run --gpus all`.
ARG DEVICE=cpu

# uid 1000: the user Hugging Face Spaces runs containers as; owns the data volume.
RUN useradd --create-home --uid 1000 app \
    && mkdir /data && chown app:app /data
WORKDIR /app
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Dependencies first, so that code changes do not reinstall them.
ENV VENV=/opt/venv PYTHON=python3.11
COPY requirements.txt requirements-offline.txt ./
COPY scripts/install.sh scripts/
RUN case "$DEVICE" in \
        cpu) scripts/install.sh --cpu ;; \
        gpu) scripts/install.sh \
             && "$VENV/bin/python" -c "import onnxruntime as o; assert 'CUDAExecutionProvider' in o.get_available_providers()" ;; \
        *) echo "DEVICE must be cpu or gpu, not $DEVICE" >&2; exit 1 ;; \
    esac \
    && rm -rf /root/.cache/pip /var/lib/apt/lists/*

COPY --chown=app:app . .
# The same script beside the code: the dependency steps are stamped done (and a --cpu venv stays
# CPU), so it only installs DL Studio itself, editable, for the `dlstudio` command.
RUN scripts/install.sh && rm -rf /root/.cache/pip
# HF_HOME: models fetched from the Hugging Face hub are kept in the volume too. NVIDIA_*: what
# the NVIDIA container toolkit mounts with `docker run --gpus all` (ignored without a GPU).
ENV PATH=/opt/venv/bin:$PATH \
    DLSTUDIO_DATA=/data \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HOME=/data/huggingface \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME ["/data"]
USER 1000:1000
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"]
CMD ["dlstudio", "serve"]
