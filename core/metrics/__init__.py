"""The metrics calculator's logic, one job per module.

inputs (checked arrays from user tables), binary (metrics at a threshold, bootstrap CIs),
imbalance (the class-prior experiment), fbeta (curves and worked examples), roc (ROC-AUC by
hand), averaging (micro / macro / weighted), ranking (precision@k, nDCG, MRR, ERR), page
(whole-page metrics), agreement, aggregation, crowd and labeling (label quality),
significance (is engine A better than B), view (plotly figures), cli (`dlstudio metrics`:
the contract's command line, and what the worked studies' commands share).
"""
