"""Saves an MLflow pyfunc model that runs infermeter's ServingModel; run inside the MLflow environment:

    python mlflow_model.py --serving-config FILE --out DIR

/invocations then takes {"inputs": [TEXT, ...]} (base64 for binary payloads, as serving.json says) and
answers {"predictions": [ANSWER, ...]}.
"""

import argparse

import mlflow.pyfunc


class InfermeterPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from infermeter.servers.common.serving_model import ServingModel

        self.serving = ServingModel.from_file(context.artifacts["serving"])

    def predict(self, context, model_input, params=None):
        if hasattr(model_input, "iloc"):  # a DataFrame: the payloads are its first column
            values = model_input.iloc[:, 0].tolist()
        elif hasattr(model_input, "ravel"):
            values = model_input.ravel().tolist()
        else:
            values = list(model_input)
        return self.serving.predict(values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serving-config", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    # No pip requirements inferred (that would load and run the model): the server runs with --env-manager local.
    mlflow.pyfunc.save_model(args.out, python_model=InfermeterPyfunc(), artifacts={"serving": args.serving_config},
                             pip_requirements=[])


if __name__ == "__main__":
    main()
