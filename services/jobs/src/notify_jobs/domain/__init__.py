"""The pure domain of the jobs service: reading uploaded files and checking and preparing their rows."""
