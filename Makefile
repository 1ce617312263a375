# The two commands the README promises, plus helpers. Every target sets itself up.
.PHONY: run test setup lab clean-cache

run:            ## main job: all notebooks, default profile -> outputs/default/
	bash scripts/run.sh

test:           ## unit + integration tests, and every notebook in the smoke profile via nbval
	bash scripts/test.sh

setup:          ## only create .venv, install the package and espeak-ng
	bash scripts/setup.sh

lab:            ## open the notebooks in JupyterLab
	bash scripts/setup.sh && .venv/bin/jupyter lab notebooks/

clean-cache:    ## forget every cached stage (outputs/cache)
	rm -rf outputs/cache
