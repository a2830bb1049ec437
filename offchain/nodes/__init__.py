"""Submitter and challenger nodes (DESIGN.md section 7): monitor -> solver -> responder, state in SQLite.

* :mod:`.catalog` the models this node serves (model files matched to registry entries by their roots)
* :mod:`.store`   SQLite state, so a node killed at any moment resumes where it stopped
* :mod:`.node`    the loop; a submitter posts results, a challenger disputes wrong ones (and posts the
                  corrected result), both play their games and finalize what they posted
"""
