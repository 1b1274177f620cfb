"""Hardware-in-the-loop test runs (`edgecall hil …`): runner, scenarios and reports."""
