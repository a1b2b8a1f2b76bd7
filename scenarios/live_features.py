"""Run the behave features against real running services instead of in-process apps.

Starts the simulator and the issuer backend as `d1sandbox up` does (two waitress servers, on free
ports, with a throwaway data directory), runs behave with D1SANDBOX_SIM_URL / D1SANDBOX_ISSUER_URL
pointing at them, stops them, and exits with behave's code. Arguments go to behave.

    python -m scenarios.live_features --format progress features        # what `make features-live` runs
    python -m scenarios.live_features features/smoke.feature
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from d1sandbox.services import Services, free_port

    args = list(sys.argv[1:] if argv is None else argv) or ["features"]
    with tempfile.TemporaryDirectory(prefix="d1live-") as tmp:
        services = Services(Path(tmp) / "var", free_port(), free_port(), threads=4)
        services.start(quiet=True)
        try:
            env = {**os.environ, "D1SANDBOX_SIM_URL": services.sim_url, "D1SANDBOX_ISSUER_URL": services.issuer_url}
            print(f"features against live services: simulator {services.sim_url}, issuer {services.issuer_url}",
                  flush=True)
            return subprocess.run([sys.executable, "-m", "behave", *args], env=env).returncode
        finally:
            services.stop()


if __name__ == "__main__":
    sys.exit(main())
