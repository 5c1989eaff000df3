"""The simpy replay of a trace through a system's memories and compute."""
