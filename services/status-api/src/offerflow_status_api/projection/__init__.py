"""The status projection: every event of every topic folded, one at a time, into the read model.

- ``view.py``: what a run looks like (``RunView``, ``StepView``, ``Message``), as the API renders it.
- ``state.py``: the stored state of a run's fold, one event at a time, in any arrival order.
- ``fold.py``: applying an event to a state, and deriving the view from a state.
- ``handlers.py``: the projection's handler table.
"""
