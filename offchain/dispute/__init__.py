"""Dispute players (DESIGN.md section 4): what a submitter and a challenger keep, decide and send.

* :mod:`.commitment`   the trees a party keeps for one claimed execution (trace, tensors, weights, graph)
* :mod:`.claimed_tree` the part of the *other* side's trace tree that its reveals have shown
* :mod:`.proofs`       the one-step proof bytes and the output-in-trace proof
* :mod:`.solver`       pure: game state in, the next action out
* :mod:`.responder`    sends actions as transactions (any RPC ape can reach)
"""
