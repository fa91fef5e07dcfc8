"""Operations: alerts to the team, deadline reminders to the counties, and the operator's
commands (`python -m ops`: backfill, reprocess, rebuild, publish, remind, ui)."""
