# Packages every stage needs (the others add their own).
if ! dpkg -s build-essential cmake pkg-config libjansson-dev libhwloc-dev libbenchmark-dev libdnnl-dev chromium fonts-liberation >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends build-essential cmake pkg-config libjansson-dev libhwloc-dev \
        libbenchmark-dev libdnnl-dev chromium fonts-liberation
fi
