"""Ships the example project (examples/webshop, kept at the top of the repository where
users read it) inside the wheel as dataops_platform/_examples, so `dataops demo` works from
an installed wheel. Everything else is configured in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLES = Path(__file__).parent / "examples"
SKIP = {"__pycache__", ".dataops", ".venv"}


class BuildWithExamples(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "dataops_platform" / "_examples"
        for source in sorted(EXAMPLES.rglob("*")):
            relative = source.relative_to(EXAMPLES)
            if source.is_file() and not SKIP & set(relative.parts) and source.suffix != ".pyc":
                out = target / relative
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(source.read_bytes())


setup(cmdclass={"build_py": BuildWithExamples})
