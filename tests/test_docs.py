"""The documentation: every Python snippet runs somewhere, and the site builds.

Pages hold no Python of their own: each ```python block only includes sections
of files that the tests exercise (tests/docs_snippets/, checked by
tests/test_docs_snippets.py) or the example project (started by
tests/test_example_project.py). The README, which GitHub renders without
includes, has its blocks executed here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory, override_settings
from rest_framework.settings import api_settings

from drf_ratelimit.clock import FakeClock
from drf_ratelimit.exceptions import Ratelimited
from drf_ratelimit.throttles import AnonRateThrottle

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "tests" / "docs_snippets"
TESTED_ROOTS = ("example_project/", "tests/docs_snippets/")
INCLUDE = re.compile(r'^--8<-- "([^":]+)(?::([\w-]+))?"$')
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def python_blocks(text: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(text) if lang == "python"]


def includes(text: str) -> list[tuple[str, str | None]]:
    found = []
    for line in text.splitlines():
        match = INCLUDE.match(line.strip())
        if match:
            found.append((match[1], match[2]))
    return found


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_python_blocks_only_include_tested_files(page: Path) -> None:
    for body in python_blocks(page.read_text()):
        lines = [line for line in body.splitlines() if line.strip()]
        for line in lines:
            match = INCLUDE.match(line.strip())
            assert match, f"{page.name}: inline Python {line!r}; include it from a tested file"
            assert match[1].startswith(TESTED_ROOTS), f"{page.name}: {match[1]} is not tested"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_included_files_and_sections_exist(page: Path) -> None:
    for path, section in includes(page.read_text()):
        source = ROOT / path
        assert source.is_file(), f"{page.name} includes missing {path}"
        if section:
            text = source.read_text()
            assert f"--8<-- [start:{section}]" in text, f"{path} has no section {section}"
            assert f"--8<-- [end:{section}]" in text, f"{path} never ends section {section}"


def test_every_snippet_section_is_shown_and_every_snippet_module_is_run() -> None:
    shown = {(path, section) for page in pages() for path, section in includes(page.read_text())}
    exercised = (ROOT / "tests" / "test_docs_snippets.py").read_text()
    for module in sorted(SNIPPETS.glob("*.py")):
        relative = module.relative_to(ROOT).as_posix()
        for section in re.findall(r"--8<-- \[start:([\w-]+)\]", module.read_text()):
            assert (relative, section) in shown, f"{relative}:{section} is on no page"
        if module.name != "__init__.py" and not module.name.startswith("test_"):
            assert re.search(rf"\b{module.stem}\b", exercised), f"{relative} is never run"


def test_the_changelog_page_includes_the_changelog() -> None:
    assert includes((DOCS / "changelog.md").read_text()) == [("CHANGELOG.md", None)]


@pytest.mark.skipif(
    shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None,
    reason="mkdocs is not installed (pip install -e '.[docs]')",
)
def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(mkdocs.parent)},
    )
    assert result.returncode == 0, result.stderr


# --- the README's blocks, executed ----------------------------------------------------------


def readme_blocks() -> list[dict[str, Any]]:
    namespaces = []
    for body in python_blocks((ROOT / "README.md").read_text()):
        namespace: dict[str, Any] = {"__name__": "readme"}
        exec(compile(body, "README.md", "exec"), namespace)
        namespaces.append(namespace)
    return namespaces


def test_readme_has_three_python_blocks() -> None:
    assert len(readme_blocks()) == 3


def test_readme_decorator_limits_the_sixth_request(clock: FakeClock, rf: RequestFactory) -> None:
    hello = readme_blocks()[0]["hello"]
    for _ in range(5):
        hello(rf.get("/"))
    with pytest.raises(Ratelimited):
        hello(rf.get("/"))


def test_readme_settings_install_the_atomic_anon_throttle() -> None:
    with override_settings(REST_FRAMEWORK=readme_blocks()[1]["REST_FRAMEWORK"]):
        assert [AnonRateThrottle] == api_settings.DEFAULT_THROTTLE_CLASSES
        assert str(AnonRateThrottle().rates[0]) == "100/900s"


def test_readme_throttle_denies_the_fourth_request(clock: FakeClock) -> None:
    """The README's handler is ``...``, so the throttles are checked as DRF's
    ``initial()`` checks them, without running it."""
    from rest_framework.exceptions import Throttled
    from rest_framework.test import APIRequestFactory

    view = readme_blocks()[2]["ItemList"]()
    view.headers = {}
    request = view.initialize_request(APIRequestFactory().get("/"))
    for _ in range(3):
        view.check_throttles(request)
    with pytest.raises(Throttled) as throttled:
        view.check_throttles(request)
    # The sliding window: three requests 20 s into a minute still weigh 2 2/3
    # of the limit until 40 s later, and fall below 2 a further 20 s later.
    assert throttled.value.wait == 60
