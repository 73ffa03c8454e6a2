import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READER = re.compile(r"env_(?:str|bool|int|float|list)\(\s*\"([A-Z0-9_]+)\"")


def documented():
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?([A-Z0-9_]+)=", text, re.MULTILINE))


def test_env_example_documents_every_setting_read_at_start_up():
    read = set(READER.findall((ROOT / "config" / "settings.py").read_text()))

    assert read, "no env_* reader found in config/settings.py"
    assert read - documented() == set()


def test_env_example_documents_the_procfile_variables():
    procfile = (ROOT / "Procfile").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+):-", procfile))

    assert used - documented() == set()
