"""The live path: a committed write to the sockets of every viewer, a module per step.

publish -> (channel layer) -> feed -> fanout -> consumers -> sinks; frames defines every
frame sent, reads the database reads a feed shares, hub a process's feeds. See the README's
Architecture section.
"""
