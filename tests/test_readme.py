"""The README's set-up commands stay true: exactly two, and CI runs the test one."""

from tests.conftest import ROOT


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n", 1)[1].strip() for block in section.split("```bash")[1:]
            if block.strip()]


def test_exactly_two_set_up_commands() -> None:
    commands = [c.split("```")[0].strip() for c in _commands()]
    assert len(commands) == 2
    assert "rnn-grader grade" in commands[0]
    assert "pytest" in commands[1]
    assert all("torch==2.13.0" in command for command in commands)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _commands()[1].split("```")[0].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()
