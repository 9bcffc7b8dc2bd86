"""What a person reads about a finished or running study: tables of studies and trials
(``tables``), the HTML report (``report``), the Pareto front of a multi-objective study
(``pareto``), and Grad-CAM and saliency maps (``explain``)."""
