"""KPI queries and workbooks: plain functions of (session, scope, period), shared by screens and exports."""
