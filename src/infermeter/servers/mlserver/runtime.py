"""MLServer custom runtime for any infermeter workload (copied beside model-settings.json). A request
carries payloads as a BYTES input ("payload"); the answer is a BYTES output ("result") of JSON strings.
MLServer's adaptive batching concatenates requests along the first axis and splits the output back."""

from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput


class InfermeterRuntime(MLModel):
    async def load(self) -> bool:
        from infermeter.servers.common.serving_model import ServingModel

        self.serving = ServingModel.from_file(self.settings.parameters.uri)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        data = payload.inputs[0].data
        values = list(data.root if hasattr(data, "root") else data)
        answers = self.serving.predict_json(values)
        return InferenceResponse(
            model_name=self.name,
            outputs=[ResponseOutput(name="result", shape=[len(answers)], datatype="BYTES", data=answers)],
        )
