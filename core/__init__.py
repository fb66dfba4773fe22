"""The shared kernel: what every app may use and which imports nothing of the project
(the import contract in `.importlinter` keeps it so)."""
