"""The detector family: DxMI and Langevin-EBM anomaly detectors for rows and images, one base
(PyOD's API), one save / load format."""
