//! Evaluation: labels from annotation overlap, PR/ROC curves, AUCPR, max-F1.
