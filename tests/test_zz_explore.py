import asyncio, uuid
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.api.common.v1 import WorkflowExecution
from workflows import registry
from workflows.form_samples import sample_values
from tests.harness import fresh_applicant

async def test_explore(driver, dev_env):
    client = dev_env.client
    chain = registry.all_chains()[0]
    kind = "person" if chain.applicant_kind == "person" else "organisation"
    case_no = await driver.start(chain.code, sample_values(chain.form), applicant=fresh_applicant(kind))
    await driver.wait_for_tasks(case_no)
    wid = f"case-{case_no}"
    await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=wid)))
    for i in range(6):
        print("COUNT after delete", i, await client.count_workflows(f"WorkflowId IN ('{wid}', 'case-nonexist')"))
        try:
            await client.get_workflow_handle(wid).describe()
            print("describe ok")
        except Exception as e:
            print("describe", type(e), e)
        await asyncio.sleep(0.5)
